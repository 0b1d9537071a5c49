"""The sans-IO core: record text in, Heka frames out, time passed in as ``now``.

Parsing (records), assembling (events), interpreting (interpret), building
and encoding (schema, hotpath, degrade) and the two state objects the
processes drive (session, delivery_state) import no I/O or clock module:
tests/test_sans_io.py checks every module here. The edges around it
(netlink, journal, shipper, outputs, cli) do the I/O.
"""
