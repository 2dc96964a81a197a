#!/bin/bash
# Stands in for scripts/startup_master.sh in the terraform tests (they run on a copy of terraform/).
echo "pestrun master startup"
