"""The PCI ID database (``pci.ids`` from pciutils/hwdata) for the ``pci_*`` label decoders:
vendor, device, class and subclass numbers as names, as ebpf_exporter shows them."""

from __future__ import annotations

PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")
MISSING = "missing pci.ids db"


class PciIds:
    """``name(kind, number)``: kind is vendor (0xVVVV), device ((vendor << 16) | device),
    class (0xCC) or subclass ((class << 8) | subclass)."""

    def __init__(self, text: str | None):
        self.found = text is not None
        self.vendors: dict[int, str] = {}
        self.devices: dict[int, str] = {}
        self.classes: dict[int, str] = {}
        self.subclasses: dict[int, str] = {}
        if text:
            self._parse(text)

    @classmethod
    def load(cls, paths=PATHS) -> "PciIds":
        for p in paths:
            try:
                with open(p, encoding="utf-8", errors="replace") as f:
                    return cls(f.read())
            except OSError:
                continue
        return cls(None)

    def _parse(self, text: str) -> None:
        # vendors "vvvv  name", their devices "\tdddd  name" (subsystems "\t\t..." are
        # skipped); then classes "C cc  name" with subclasses "\tss  name"
        vendor = cls = None
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            try:
                if line.startswith("C "):
                    num, _, name = line[2:].partition("  ")
                    cls, vendor = int(num, 16), None
                    self.classes[cls] = name.strip()
                elif line[0] != "\t":
                    num, _, name = line.partition("  ")
                    vendor, cls = int(num, 16), None
                    self.vendors[vendor] = name.strip()
                elif line[1] != "\t":
                    num, _, name = line[1:].partition("  ")
                    if vendor is not None:
                        self.devices[(vendor << 16) | int(num, 16)] = name.strip()
                    elif cls is not None:
                        self.subclasses[(cls << 8) | int(num, 16)] = name.strip()
            except ValueError:        # an entry that is not hex (a newer format): skip it
                continue

    def name(self, kind: str, num: int) -> str:
        if not self.found:
            return MISSING
        if kind == "vendor":
            return self.vendors.get(num) or f"unknown pci vendor: 0x{num:04x}"
        if kind == "device":
            return self.devices.get(num) or f"unknown pci device: 0x{num:08x}"
        if kind == "class":
            return self.classes.get(num) or f"unknown pci class: 0x{num:02x}"
        cls = num >> 8
        if cls not in self.classes:
            return f"unknown pci class: 0x{cls:02x}"
        return self.subclasses.get(num) or \
            f"unknown pci subclass: 0x{num & 0xff:02x} (class 0x{cls:02x})"
