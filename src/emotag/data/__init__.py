"""Reading labelled data and scored files."""
