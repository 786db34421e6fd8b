"""Results: what a finished portrait is shown with, independent of the chat platform."""
