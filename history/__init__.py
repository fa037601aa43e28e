"""Results over time: the run history in a results directory, `tpulens diff` between two result
sets, and step detection over a metric's runs. Standard library only, except the significance
test of `tpulens diff` (scipy, the [diff] extra)."""
