"""Speed and memory benchmarks; each script prints one JSON document."""
