"""hyperion_core: the ROS-free half of Hyperion (pip- and colcon-installable)."""

from setuptools import find_packages, setup

PACKAGE = "hyperion_core"

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(include=[PACKAGE, f"{PACKAGE}.*"]),
    package_data={
        PACKAGE: [
            "link/data/5g-memu/README.md",
            "link/data/5g-memu/throughput/*/*/*",
            "eval/data/*",
        ]
    },
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
    ],
    python_requires=">=3.10",
    install_requires=[
        "numpy>=1.24",
        "pyyaml>=6",
        "opencv-python-headless>=4.8",
        "simplejpeg>=1.9,<2",
        "pycocotools>=2.0.8",
    ],
    zip_safe=True,
    description="ROS-free Hyperion algorithms",
    license="Apache-2.0",
)
