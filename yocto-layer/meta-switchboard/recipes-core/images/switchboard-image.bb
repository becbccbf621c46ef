SUMMARY = "Switchboard appliance image for Raspberry Pi 4/5 and CM4"
DESCRIPTION = "A minimal systemd image that boots into the Switchboard service. The \
               line board and codec overlays come from RPI_EXTRA_CONFIG (see README)."
LICENSE = "MIT"

inherit core-image

IMAGE_FEATURES += "ssh-server-dropbear"
IMAGE_INSTALL = "packagegroup-core-boot packagegroup-switchboard"
IMAGE_LINGUAS = ""
