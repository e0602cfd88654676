"""The study builder: researcher pages that design a study through its specification."""
