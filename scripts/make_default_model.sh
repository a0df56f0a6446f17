#!/usr/bin/env bash
# Re-create models/default from the bundled data: train MiniLM (configs/minilm.yaml) unless the
# run exists, export it to ONNX int8, package it, re-tune thresholds on the int8 model's dev
# scores, write the model card. Swaps the new folder in only when every step has succeeded.
#
#   scripts/make_default_model.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/minilm}
NEW=models/.default.partial
[ -f "$RUN/emotag.json" ] || emotag train --config configs/minilm.yaml --output "$RUN"
rm -rf "$NEW"
emotag export "$RUN" --onnx --int8 --output "$RUN/onnx-export" --package "$NEW"
emotag evaluate "$NEW" --retune-thresholds --output "$NEW"
python scripts/model_card.py "$NEW" --run "$RUN"
rm -rf "$NEW/predictions"   # 1.2 MB of scores: kept in the run folder, not shipped
rm -rf models/default.old
[ -d models/default ] && mv models/default models/default.old
mv "$NEW" models/default
rm -rf models/default.old
du -sh models/default
