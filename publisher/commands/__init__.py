"""Click commands, one module per area; `publisher.cli` assembles them."""
