# contact-listener: the two commands of the README, and a few helpers.
.PHONY: run stop test build release-build

run:            ## build (release) and start the listener behind a private nginx on 127.0.0.1:8080
	@bash scripts/run.sh

stop:           ## stop what `make run` started
	@bash scripts/stop.sh

test:           ## install the test dependencies and run the whole suite
	@bash scripts/test.sh

build:
	swift build
