SUMMARY = "Switchboard: on-site call routing for a telephony appliance"
DESCRIPTION = "Answers calls on FXO lines, plays a greeting and menu, hunts the \
               on-call responders through the GSM/LTE modem, connects the first who \
               accepts with a key press, and keeps call detail records."
# No public home page yet; the address is a placeholder (and so cannot be reached).
# nooelint: oelint.vars.homepageping
HOMEPAGE = "https://example.invalid/switchboard"
SECTION = "net"
# The licence of the service is not decided yet; until it is, it is not redistributable.
LICENSE = "CLOSED"

DEPENDS += "alsa-lib libopus"

# Where the source comes from: the project's git server (a placeholder until it has a
# public one), or a local checkout through externalsrc (see the layer's README).
SRC_URI = "git://git.example.invalid/switchboard.git;protocol=https;branch=main \
           file://switchboard.toml \
           file://board.toml \
           "
# Development default; a release build pins SRCREV to a tagged commit in local.conf.
# nooelint: oelint.vars.autorev
SRCREV ?= "${AUTOREV}"

S = "${UNPACKDIR}/git"

inherit cargo cargo-update-recipe-crates systemd useradd

require ${BPN}-crates.inc

USERADD_PACKAGES = "${PN}"
GROUPADD_PARAM:${PN} = "--system gpio"
USERADD_PARAM:${PN} = "--system --home-dir ${localstatedir}/lib/switchboard --no-create-home \
                       --shell /sbin/nologin --groups audio,dialout,gpio switchboard"

SYSTEMD_SERVICE:${PN} = "switchboard.service"
SYSTEMD_AUTO_ENABLE:${PN} = "enable"

do_install:append() {
    install -d ${D}${systemd_system_unitdir}
    install -m 0644 ${S}/systemd/switchboard.service ${D}${systemd_system_unitdir}/
    install -d ${D}${nonarch_base_libdir}/udev/rules.d
    install -m 0644 ${S}/systemd/60-switchboard-modem.rules ${D}${nonarch_base_libdir}/udev/rules.d/
    install -d -m 0750 ${D}${sysconfdir}/switchboard
    install -m 0640 ${UNPACKDIR}/switchboard.toml ${D}${sysconfdir}/switchboard/
    install -m 0640 ${UNPACKDIR}/board.toml ${D}${sysconfdir}/switchboard/
    install -d ${D}${docdir}/${BPN}
    install -m 0644 ${S}/README.md ${S}/docs/configuration.md ${D}${docdir}/${BPN}/
}

FILES:${PN} += "${nonarch_base_libdir}/udev/rules.d"
CONFFILES:${PN} = "${sysconfdir}/switchboard/switchboard.toml ${sysconfdir}/switchboard/board.toml"

# Prompts are rendered with espeak-ng at start-up (cached under /var/lib/switchboard).
RDEPENDS:${PN} += "espeak-ng"
