"""A member's portrait request: the options they chose and the selfie they sent."""
