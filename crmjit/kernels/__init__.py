"""Numba kernels: arrays in, arrays out, no validation, no pandas.

Callers must pass validated, contiguous-or-strided numeric arrays; see the public functions
in :mod:`crmjit` for the checks each kernel relies on.
"""
