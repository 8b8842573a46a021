"""The one compiled part of Dari; everything else is declared in pyproject.toml.

``embeddings/_rows.c`` is the search's kernel: the best product of a question with each
candidate paragraph's stored sentence vectors. It is optional: without a C compiler the
install goes on and ``embeddings/half.py`` computes the same in numpy, slower (the test
suite says so: ``tests/test_half.py``). Declared here rather than in pyproject.toml, where
setuptools still calls extension modules experimental.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("embeddings._rows", ["embeddings/_rows.c"], optional=True,
                             extra_compile_args=["-O2"])])
