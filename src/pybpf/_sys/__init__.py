"""The thin platform layer: system calls and kernel ABI layouts. Nothing above it uses ctypes
for kernel calls directly."""
