"""The Chevereto V4 upload API client."""
