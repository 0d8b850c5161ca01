"""How every script ends: its exit status, a Ctrl-C that nothing handled, and a reader that
closed our output early."""
import os
import sys


def run_main(main):
    """`sys.exit(main())` for the entry scripts, except that a reader that closed our
    stdout early (`python evaluate.py ... | head`) ends the program with status 1, as
    Python's documentation recommends, instead of a BrokenPipeError traceback, and a
    Ctrl-C that no step of the script handles (while evaluating, loading data, exporting)
    ends it with one line and the shell's usual status 130, instead of a traceback."""
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("\nInterrupted.", file=sys.stderr, flush=True)
        sys.exit(130)
    except BrokenPipeError:
        # stdout is gone: point it at /dev/null so the flush at exit cannot fail again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
