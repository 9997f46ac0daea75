# contact-listener: the two commands of the README, and a few helpers.
.PHONY: run stop test build release fuzz

run:            ## build (release) and start the listener behind a private nginx on 127.0.0.1:8080
	@bash scripts/run.sh

stop:           ## stop what `make run` started
	@bash scripts/stop.sh

test:           ## install the test dependencies and run the whole suite
	@bash scripts/test.sh

fuzz:           ## libFuzzer (with AddressSanitizer) on the decoders: FUZZ_SECONDS per target (default 60)
	@bash fuzz/run

release:        ## a static x86_64 binary packed in dist/ with the deploy recipes
	@bash scripts/release.sh

build:
	swift build
