"""Discord-free services the cogs call: each validates input, acts through storage, explains."""
