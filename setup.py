import os
import re

from setuptools import find_packages, setup

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "sockjs", "tornado", "version.py")) as f:
    version = re.search(r'__version__ = "([^"]+)"', f.read()).group(1)
with open(os.path.join(here, "README.rst")) as f:
    long_description = f.read()

setup(
    name="sockjs-tornado",
    version=version,
    description="SockJS server for Tornado: websocket-like connections that work everywhere",
    long_description=long_description,
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(include=["sockjs", "sockjs.*"]),
    package_data={"sockjs.tornado": ["py.typed", "client/*.js"]},
    python_requires=">=3.9",
    install_requires=["tornado>=6.1"],
    extras_require={
        "redis": ["redis>=4.2"],
        "test": [
            "pytest>=7",
            "pytest-timeout>=2",
            "websocket-client>=1.0",
            "requests>=2.25",
            "hypothesis>=6",
            "redis>=4.2",
            "mypy>=1.0",
            "ruff>=0.1",
            "docutils>=0.16",
            "sphinx>=7.2",
            # The range runs serve the tests from uvloop too.
            "uvloop>=0.17; sys_platform != 'win32' and platform_python_implementation == 'CPython'",
        ],
        "docs": ["sphinx>=7.2"],
    },
    zip_safe=False,
    classifiers=[
        "Development Status :: 4 - Beta",
        "Framework :: Tornado",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: MIT License",
        "Programming Language :: Python :: 3",
        "Topic :: Internet :: WWW/HTTP",
        "Typing :: Typed",
    ],
)
