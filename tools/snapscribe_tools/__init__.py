"""Developer and operator tools: admin CLI, the local stack, local invoke, benchmarks."""
