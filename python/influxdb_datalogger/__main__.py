"""``python -m influxdb_datalogger``: the command-line tool (see ``influxdb-datalogger --help``)."""

from ._cli import main

main()
