"""The `./lab` command line (`python3 -m dlab.cli`, main.py) and the commands that are more than
argument parsing: `./lab demo` (demo.py), `./lab bench` (bench.py: the C++ benchmarks;
bench_dialout.py: the dial-out load benchmark), `./lab test` (testrun.py). bindings/README.md maps
the rest of dlab."""
