"""Drop-in names for scripts written against other libraries: :mod:`crmjit.compat.lifetimes`."""
