SUMMARY = "Switchboard appliance: the service and what a box needs around it"
DESCRIPTION = "The Switchboard service plus the ALSA and GPIO tools used to bring up \
               and check a line board, and the time zone database for schedules."
LICENSE = "MIT"

inherit packagegroup

RDEPENDS:${PN} = "\
    alsa-utils-alsactl \
    alsa-utils-amixer \
    alsa-utils-aplay \
    libgpiod-tools \
    switchboard \
    tzdata \
"
