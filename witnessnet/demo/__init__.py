"""The local demo network behind `witnessnet demo`.

procs     child processes: start `python -m witnessnet ...`, read the line a daemon
          prints when it listens, stop them all (also `log_server`, for tests)
receiver  an in-process webhook receiver that records every alert it is sent
network   writes keys and configs, starts the log, the witnesses and the monitor
attacks   the steps: append and cosign, an unknown-key release, a fork
summary   the table of what was detected, by whom, how fast, with which evidence
run       the demo itself, one progress line per step
"""
