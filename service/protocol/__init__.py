"""Decoding requests and encoding answers: plain functions on bytes and arrays, no HTTP."""
