"""hyperion_edge: the edge half of the Hyperion graph (one node class per module)."""

from setuptools import find_packages, setup

PACKAGE = "hyperion_edge"
NODES = ["camera", "decompressor", "edge_detector", "scorer", "scheduler", "encoder",
         "edge_link", "ensembler"]

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
    description="Hyperion edge nodes",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [f"{node} = {PACKAGE}.{node}_node:main" for node in NODES],
    },
)
