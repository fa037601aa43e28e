"""Build step: the wheel ships the repository's default suite, `benchmarks.toml`, inside the
package, copied at build time (one file in the tree, no link), so `tpulens run` outside a
checkout still has a suite to run."""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSuite(build_py):
    def run(self):
        super().run()
        if not self.editable_mode:  # an editable checkout reads ./benchmarks.toml itself
            target = Path(self.build_lib) / "tpulens" / "benchmarks.toml"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(Path(__file__).parent / "benchmarks.toml", target)


setup(cmdclass={"build_py": BuildWithSuite})
