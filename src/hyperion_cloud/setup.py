"""hyperion_cloud: the cloud half of the Hyperion graph."""

from setuptools import find_packages, setup

PACKAGE = "hyperion_cloud"
NODES = ["cloud_link", "cloud_detector"]

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
    description="Hyperion cloud node",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            *(f"{node} = {PACKAGE}.{node}_node:main" for node in NODES),
            # Not a node: a worker of the shared detector pool (hyperion run cloud --workers).
            f"pool_worker = {PACKAGE}.pool_worker:main",
            # The pool's zenoh router (ROS-free, in hyperion_core), for pool.launch.py.
            "pool_router = hyperion_core.link.pool_router:main",
        ],
    },
)
