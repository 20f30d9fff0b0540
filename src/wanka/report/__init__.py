"""Pure renderers: rich tables, Markdown/HTML reports and plots built from result objects."""
