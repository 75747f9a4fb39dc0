"""The agent console: static HTML/CSS/JS served by the profile service at /console."""
