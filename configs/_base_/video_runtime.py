# Runtime of the video (mmaction2) configs: the project's runtime with
# mmaction2 as the default scope and its visualizer.
_base_ = ['./default_runtime.py']
default_scope = 'mmaction'
visualizer = dict(type='ActionVisualizer',
                  vis_backends=[dict(type='LocalVisBackend')])
