"""``python -m tests.fakes.chevereto``: the standalone emulator (see ``standalone``)."""

from tests.fakes.chevereto.standalone import main

if __name__ == "__main__":
    main()
