"""Tools for tests and benchmarks (throwaway database clusters); not used by the running facility."""
