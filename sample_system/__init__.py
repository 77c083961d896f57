"""A small e-commerce system on which gameday's isolation and scaling claims are verified."""
