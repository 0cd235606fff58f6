"""Coverage-guided fuzzing (atheris) of every parser that takes bytes from outside.

`fuzz.targets` names one target per parser; `python -m fuzz.run` drives them under
atheris; `fuzz/corpus/<target>/` holds the checked-in seeds (`python -m fuzz.seeds`
rebuilds them from ../shared/vectors). See docs/fuzzing.md.
"""
