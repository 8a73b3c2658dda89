# The C extension; everything else is in pyproject.toml.
from setuptools import Extension, setup

setup(ext_modules=[Extension("hello_ext._native", ["src/hello_ext/_native.c"])])
