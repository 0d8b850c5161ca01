"""What the scripts and both packages share: argument parsing, stopping cleanly on Ctrl-C,
quiet native start-up logs, and every chart."""
