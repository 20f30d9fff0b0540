"""Command-line interface: parse, call one library function, render, set the exit code."""
