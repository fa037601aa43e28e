"""Results over time: the run history in a results directory, `tpulens diff` between two result
sets, step detection over a metric's runs, and the one judgment both use. Standard library only,
except the bootstrap that tests timing samples (numpy, installed with the [diff] extra)."""
