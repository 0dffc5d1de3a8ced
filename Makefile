# The two commands of the README, and a few more. The logic lives in scripts/.
.PHONY: run test bench setup

run:    ## set up, then open ALKO Desk (ARGS="db status" runs a command instead)
	bash scripts/run-app.sh $(ARGS)

test:   ## set up, then the whole test suite with a real Secret Service (PYTEST_ARGS="-k cli")
	bash scripts/run-tests.sh $(PYTEST_ARGS)

bench:  ## set up, then print the benchmark table
	bash scripts/setup.sh --bench
	QT_QPA_PLATFORM=offscreen .venv/bin/python -m bench

setup:  ## only set up: system packages (as root), .venv, FerretDB
	bash scripts/setup.sh
