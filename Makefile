# The two commands a new machine needs (see README.md).
.PHONY: run test

# Build cachegate, start the bundled single-node Ceph RGW on 127.0.0.1:7480 and run the
# gateway on 127.0.0.1:9000 with the embedded development configuration.
run:
	@tests/rgw/start-rgw.sh >/dev/null
	cargo build --release --bin cachegate
	@echo
	@echo "cachegate (dev config) on http://127.0.0.1:9000, metrics on http://127.0.0.1:9001/metrics"
	@echo "  export AWS_ACCESS_KEY_ID=CACHEGATEDEVKEY00001"
	@echo "  export AWS_SECRET_ACCESS_KEY=cachegate-dev-secret-key-000000000000001"
	@echo "  aws --endpoint-url http://127.0.0.1:9000 s3 ls"
	@echo "(stop the local RGW with tests/rgw/stop-rgw.sh)"
	@echo
	target/release/cachegate serve --dev

# Install what is missing, start a throw-away RGW and run every test (Rust and Python).
test:
	tests/run-all.sh
