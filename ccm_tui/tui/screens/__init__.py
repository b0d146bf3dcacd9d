"""Full screens: the main dashboard, the inspector and the replay view."""
