# make demo  : set up everything and run the main job on the offline datasets
# make test  : set up everything and run the test suite
PYTHON_SYS ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
STAMP      := $(VENV)/.installed
FASHION    := /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
DATA_STAMP := data/offline/.built

.PHONY: demo test setup data system-deps clean-venv readme-figures

demo: setup data
	$(PY) tools/run_pipeline.py configs/pipelines/offline.py

# The suite in TEST_WORKERS processes (pytest-xdist; tests that share an
# expensive fixture run in one process: conftest's xdist groups).
TEST_WORKERS ?= 2
test: setup data
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadgroup tests

setup: system-deps $(STAMP)

# Debian ships Fashion-MNIST; installed only when missing (needs root).
system-deps:
	@if [ ! -f $(FASHION) ]; then \
		echo "installing Debian package dataset-fashion-mnist"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq dataset-fashion-mnist; \
	fi

# Re-runs only when the pins or the package metadata change. torch and
# torchvision are pinned together (constraints.txt): anything looser pulls a
# multi-GB CUDA build.
$(STAMP): constraints.txt setup.py
	test -x $(PY) || $(PYTHON_SYS) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt torch torchvision 'setuptools>=77.0.3,<82' numpy
	$(PIP) install -q -c constraints.txt -e '.[video,timm,tests]' \
		opencv-python opencv-contrib-python mlxtend scikit-learn
	# animal-mnist declares TensorFlow as a dependency; we only read its data files.
	$(PIP) install -q -c constraints.txt --no-deps animal-mnist
	$(PY) -c "import mlfd_mm, mmpretrain.models, mmaction.models; print('mlfd_mm environment ready')"
	touch $@

data: setup
	$(PY) tools/prepare_offline_data.py

# The README's report figures, from the seed-0 run of `make demo`.
readme-figures: setup
	$(PY) tools/report.py work_dirs/offline --config configs/pipelines/offline.py
	mkdir -p docs/report
	cp work_dirs/offline/report/results.png work_dirs/offline/report/curves_mnist.png \
		work_dirs/offline/report/embedding_mnist.png docs/report/

clean-venv:
	rm -rf $(VENV)
