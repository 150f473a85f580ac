# The two commands a new user runs: `make up`, then `make test`.
.PHONY: up down status test bench

up:      ## build and start the whole district on this machine
	@deploy/local.sh up

down:    ## stop what `make up` started
	@deploy/local.sh down

status:
	@deploy/local.sh status

test:    ## every test: unit, API, end-to-end, Kubernetes manifests
	@deploy/test.sh

bench:   ## load the running cluster (make up first); BENCH_DURATION, BENCH_CONCURRENCY override
	@deploy/bench.sh
