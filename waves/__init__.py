"""Tracer studies run by themselves: waves at offsets from each graduate's completion
date, invitations by SMS and calls, retries within contact hours, opt-out."""
