"""`publisher init`: a new site of one's own, ready to check, build and schedule."""
