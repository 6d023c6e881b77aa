"""The knowledge base: Markdown articles with YAML front matter, and the code that reads,
validates, imports and revises them."""
