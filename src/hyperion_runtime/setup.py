"""hyperion_runtime: the node runtime shared by the edge and cloud packages (no nodes)."""

from setuptools import find_packages, setup

PACKAGE = "hyperion_runtime"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    description="Hyperion node runtime shared by edge and cloud",
    license="Apache-2.0",
)
